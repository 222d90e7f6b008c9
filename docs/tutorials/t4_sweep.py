# %% [markdown]
# # t4_sweep

# %%
print(1)
