# %% [markdown]
# # t1_width

# %%
print(1)
