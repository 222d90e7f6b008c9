# %% [markdown]
# # t5_compressed_sensing

# %%
print(1)
