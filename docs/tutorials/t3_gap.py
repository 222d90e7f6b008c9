# %% [markdown]
# # t3_gap

# %%
print(1)
